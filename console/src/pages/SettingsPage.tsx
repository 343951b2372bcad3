import { ApiKeys } from "../components/settings/ApiKeys";
import { OrganizationSettings } from "../components/settings/OrganizationSettings";
import { WebhookEndpoints } from "../components/settings/WebhookEndpoints";

/** An organization's settings: its API keys, webhook endpoints and limits. Each section loads
 * on its own, so a key without the admin scope still sees what it may. */
export function SettingsPage() {
  return (
    <>
      <h1>Settings</h1>
      <section aria-labelledby="keys-heading">
        <h2 id="keys-heading">API keys</h2>
        <ApiKeys />
      </section>
      <section aria-labelledby="endpoints-heading">
        <h2 id="endpoints-heading">Webhook endpoints</h2>
        <WebhookEndpoints />
      </section>
      <section aria-labelledby="organization-heading">
        <h2 id="organization-heading">Organization</h2>
        <OrganizationSettings />
      </section>
    </>
  );
}
