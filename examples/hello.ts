/** The smallest Strato function: a JSON event in, a JSON result out. */
export default async (event: { name?: string }) => ({ message: `Hello, ${event.name ?? 'world'}!` });
