/// <reference types="vitest/config" />
import react from "@vitejs/plugin-react";
import { defineConfig } from "vite";

// The API serves the built files at /console/ (api/console.py); `npm run dev` proxies the API so
// the same relative URLs work against `callwright dev` on port 8000.
const api = process.env.CALLWRIGHT_API ?? "http://127.0.0.1:8000";

export default defineConfig({
  base: "/console/",
  plugins: [react()],
  build: { outDir: "dist", sourcemap: true },
  server: {
    // The builder imports the plan's examples and the eval's scenarios from the repository.
    fs: { allow: [".."] },
    proxy: {
      "/api": { target: api, ws: true },
      "/healthz": api,
    },
  },
  test: {
    environment: "jsdom",
    setupFiles: ["./src/test/setup.ts"],
    css: false,
  },
});
