/// <reference types="vitest/config" />
import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';

// The dashboard is served by djs at /ui/ (embedded in the binary). For
// development, `npm run dev` proxies the API and the streams to a djs
// serve on DJS_URL (default http://127.0.0.1:8080); see docs/ui.md.
const target = process.env.DJS_URL ?? 'http://127.0.0.1:8080';

export default defineConfig({
  base: '/ui/',
  plugins: [react()],
  build: {
    target: 'es2022',
    sourcemap: false,
    chunkSizeWarningLimit: 600,
  },
  server: {
    proxy: {
      '/api': { target, changeOrigin: false },
      '/health': { target },
      '/ws': { target, ws: true },
    },
  },
  test: {
    environment: 'jsdom',
    include: ['src/**/*.test.ts', 'src/**/*.test.tsx'],
  },
});
