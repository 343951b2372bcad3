// Placeholder while the page is being built.
export function SettingsPage() {
  return <h1>SettingsPage</h1>;
}
