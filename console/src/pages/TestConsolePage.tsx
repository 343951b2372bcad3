// Placeholder while the page is being built.
export function TestConsolePage() {
  return <h1>TestConsolePage</h1>;
}
