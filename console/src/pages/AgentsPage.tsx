// Placeholder while the page is being built.
export function AgentsPage() {
  return <h1>AgentsPage</h1>;
}
