/** Path routing under /console: links change the URL with history.pushState and the page is drawn again. */

export const BASE = '/console';

export interface RouteContext {
  /** Path parameters by name (`:name` in the pattern). */
  params: Record<string, string>;
  query: URLSearchParams;
  /** The page's container, emptied before the page draws. */
  root: HTMLElement;
  /** False once the user went elsewhere: a slow page must not draw over the next one. */
  current: () => boolean;
}

export type Page = (context: RouteContext) => Promise<void> | void;

interface Route {
  segments: string[];
  page: Page;
}

/** The nav entry a path belongs to: a function's page is part of the functions list. */
function sectionOf(path: string): string {
  const section = path.split('/')[1] ?? '';
  return section === 'functions' ? '' : section;
}

export function createRouter(root: HTMLElement, routes: Record<string, Page>, notFound: Page) {
  const table: Route[] = Object.entries(routes).map(([pattern, page]) => ({
    segments: pattern.split('/').filter((s) => s !== ''),
    page,
  }));
  let generation = 0;

  function match(path: string): { page: Page; params: Record<string, string> } {
    const segments = path.split('/').filter((s) => s !== '');
    for (const route of table) {
      if (route.segments.length !== segments.length) continue;
      const params: Record<string, string> = {};
      const matched = route.segments.every((expected, i) => {
        const actual = segments[i] ?? '';
        if (expected.startsWith(':')) {
          params[expected.slice(1)] = decodeURIComponent(actual);
          return true;
        }
        return expected === actual;
      });
      if (matched) return { page: route.page, params };
    }
    return { page: notFound, params: {} };
  }

  async function render(): Promise<void> {
    const mine = ++generation;
    const path = window.location.pathname.startsWith(BASE)
      ? window.location.pathname.slice(BASE.length)
      : '/';
    const { page, params } = match(path);
    root.replaceChildren();
    for (const anchor of document.querySelectorAll<HTMLAnchorElement>('header nav a')) {
      anchor.classList.toggle(
        'active',
        sectionOf(new URL(anchor.href).pathname.slice(BASE.length)) === sectionOf(path),
      );
    }
    await page({
      params,
      query: new URLSearchParams(window.location.search),
      root,
      current: () => mine === generation,
    });
  }

  function navigate(href: string): void {
    window.history.pushState(null, '', href);
    void render();
  }

  document.addEventListener('click', (event) => {
    const anchor = (event.target as Element | null)?.closest?.('a');
    if (anchor === null || anchor === undefined || event.defaultPrevented || event.button !== 0) return;
    if (event.metaKey || event.ctrlKey || event.shiftKey || anchor.target !== '') return;
    const url = new URL(anchor.href, window.location.href);
    if (url.origin !== window.location.origin || !url.pathname.startsWith(BASE)) return;
    event.preventDefault();
    navigate(url.pathname + url.search);
  });
  window.addEventListener('popstate', () => void render());
  // Pages that navigate without a link (a filter form) ask for it with this event.
  document.addEventListener('console:navigate', (event) => navigate((event as CustomEvent<string>).detail));
  return { render, navigate };
}
