// Placeholder while the page is being built.
export function CallsPage() {
  return <h1>CallsPage</h1>;
}
