import { createContext, useCallback, useContext, useMemo, useState, type ReactNode } from "react";
import { keyStore } from "./api";

interface Auth {
  key: string | null;
  signIn(key: string): void;
  signOut(): void;
}

const AuthContext = createContext<Auth | null>(null);

/** Who is signed in: the API key kept in session storage (see `keyStore`). */
export function AuthProvider({ children }: { children: ReactNode }) {
  const [key, setKey] = useState<string | null>(() => keyStore.get());
  const signIn = useCallback((value: string) => {
    keyStore.set(value);
    setKey(value);
  }, []);
  const signOut = useCallback(() => {
    keyStore.clear();
    setKey(null);
  }, []);
  const value = useMemo(() => ({ key, signIn, signOut }), [key, signIn, signOut]);
  return <AuthContext.Provider value={value}>{children}</AuthContext.Provider>;
}

export function useAuth(): Auth {
  const auth = useContext(AuthContext);
  if (auth === null) throw new Error("useAuth outside AuthProvider");
  return auth;
}
