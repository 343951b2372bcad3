import { BrowserRouter, NavLink, Navigate, Route, Routes } from "react-router";
import { AuthProvider, useAuth } from "./auth";
import { AgentsPage } from "./pages/AgentsPage";
import { BuilderPage } from "./pages/BuilderPage";
import { CallPage } from "./pages/CallPage";
import { CallsPage } from "./pages/CallsPage";
import { SettingsPage } from "./pages/SettingsPage";
import { SignIn } from "./pages/SignIn";
import { TestConsolePage } from "./pages/TestConsolePage";

/** The console: served by the API at /console/ (see api/console.py). */
export function App() {
  return (
    <AuthProvider>
      <BrowserRouter basename="/console">
        <Shell />
      </BrowserRouter>
    </AuthProvider>
  );
}

function Shell() {
  const { key, signOut } = useAuth();
  if (!key) return <SignIn />;
  return (
    <>
      <header className="container">
        <nav aria-label="Main">
          <ul>
            <li>
              <strong>Callwright</strong>
            </li>
          </ul>
          <ul>
            <li>
              <NavLink to="/agents">Agents</NavLink>
            </li>
            <li>
              <NavLink to="/agents/new">New agent</NavLink>
            </li>
            <li>
              <NavLink to="/calls">Calls</NavLink>
            </li>
            <li>
              <NavLink to="/settings">Settings</NavLink>
            </li>
            <li>
              <button type="button" className="secondary outline" onClick={signOut}>
                Sign out
              </button>
            </li>
          </ul>
        </nav>
      </header>
      <main className="container">
        <Routes>
          <Route path="/" element={<Navigate to="/agents" replace />} />
          <Route path="/agents" element={<AgentsPage />} />
          <Route path="/agents/new" element={<BuilderPage />} />
          <Route path="/agents/:agentId/test" element={<TestConsolePage />} />
          <Route path="/calls" element={<CallsPage />} />
          <Route path="/calls/:callKey" element={<CallPage />} />
          <Route path="/settings" element={<SettingsPage />} />
          <Route path="*" element={<p>No such page.</p>} />
        </Routes>
      </main>
    </>
  );
}
