/**
 * A Lambda-style handler that uses an npm package (mustache): `strato deploy` bundles it in.
 * Deploy: npx strato deploy examples/greeting
 */
import Mustache from 'mustache';

interface GreetingEvent {
  name?: string;
  items?: string[];
}

const template =
  'Hello {{name}}!{{#items.length}} You have {{items.length}} items: {{#items}}{{.}} {{/items}}{{/items.length}}';

export const handler = async (
  event: GreetingEvent,
  context: { awsRequestId: string; functionName: string },
) => {
  const text = Mustache.render(template, { name: event.name ?? 'world', items: event.items ?? [] }).trim();
  console.log(`rendered greeting for ${event.name ?? 'world'}`);
  return { text, requestId: context.awsRequestId, functionName: context.functionName };
};
