// Placeholder while the page is being built.
export function CallPage() {
  return <h1>CallPage</h1>;
}
