/// <reference types="vitest/config" />
// Vite builds the editor straight into the platform API's static folder, from
// where include/api/routes/editor.py serves it at /autopr/editor/ inside the
// Airflow API server.  `npm run dev` proxies API calls to a running Airflow
// (set AIRFLOW_URL, default http://127.0.0.1:8080) for hot-reload work.
import { fileURLToPath } from "node:url";
import react from "@vitejs/plugin-react";
import { defineConfig } from "vite";

const airflow = process.env.AIRFLOW_URL ?? "http://127.0.0.1:8080";

export default defineConfig({
  base: "/autopr/editor/",
  plugins: [react()],
  build: {
    outDir: fileURLToPath(new URL("../include/api/static/editor/", import.meta.url)),
    emptyOutDir: true,
    chunkSizeWarningLimit: 1500,
  },
  server: {
    proxy: {
      "/autopr/api": airflow,
      "/api/v2": airflow,
      "/auth": airflow,
    },
  },
  test: {
    include: ["src/**/*.test.ts"],
    environment: "node",
  },
});
