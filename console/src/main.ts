import './style.css';
import { storeApiKey, storedApiKey } from './api.js';
import { notice } from './dom.js';
import { createRouter } from './router.js';
import { costPage } from './pages/cost.js';
import { dlqPage } from './pages/dlq.js';
import { functionPage } from './pages/function.js';
import { functionsPage } from './pages/functions.js';
import { invocationPage } from './pages/invocation.js';
import { invocationsPage } from './pages/invocations.js';

const root = document.getElementById('app') as HTMLElement;
const router = createRouter(
  root,
  {
    '/': functionsPage,
    '/functions/:name': functionPage,
    '/invocations': invocationsPage,
    '/invocations/:id': invocationPage,
    '/dlq': dlqPage,
    '/cost': costPage,
  },
  ({ root: page }) => page.append(notice('No such page in the console.', 'error')),
);

const keyForm = document.getElementById('api-key') as HTMLFormElement;
const keyInput = keyForm.elements.namedItem('key') as HTMLInputElement;
keyInput.value = storedApiKey() ?? '';
keyForm.addEventListener('submit', (event) => {
  event.preventDefault();
  storeApiKey(keyInput.value.trim());
  void router.render();
});

void router.render();
