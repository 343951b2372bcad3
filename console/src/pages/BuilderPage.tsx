// Placeholder while the page is being built.
export function BuilderPage() {
  return <h1>BuilderPage</h1>;
}
