// The API's organization, key and webhook endpoint shapes (api/schemas/organizations.py,
// api/schemas/webhooks.py) as the settings page reads them.

/** What a key may do (core.auth.Scope). */
export const SCOPES = ["read", "agents:write", "calls:write", "webhooks:write", "admin"] as const;
export type Scope = (typeof SCOPES)[number];

export const SCOPE_HINTS: Record<Scope, string> = {
  read: "read agents, calls and webhooks",
  "agents:write": "build and change agents",
  "calls:write": "place and end calls",
  "webhooks:write": "see secrets, rotate them, replay deliveries",
  admin: "everything, keys and organization settings included",
};

export interface KeyPublic {
  id: number;
  name: string;
  prefix: string;
  scopes: string[];
  created_at: string;
  last_used_at: string | null;
  expires_at: string | null;
  revoked_at: string | null;
}

export interface KeyCreated extends KeyPublic {
  key: string;
}

export interface OrganizationPublic {
  id: number;
  name: string;
  retention_days: number | null;
  allowed_call_prefixes: string[];
  calls_per_hour: number;
  allow_private_webhooks: boolean;
  rate_limit_per_minute: number;
  created_at: string;
}

export interface EndpointPublic {
  id: number;
  url: string;
  secret_masked: string;
  previous_secret_expires_at: string | null;
  created_at: string;
  rotated_at: string | null;
}

export interface EndpointSecret {
  secret: string;
  previous_secret: string | null;
  previous_secret_expires_at: string | null;
}
