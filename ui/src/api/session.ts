import { apiGet, apiWrite } from './client';

export type Role = 'admin' | 'operator' | 'user' | 'worker';

export interface Session {
  sub: string;
  role: Role;
  exp: number;
}

/** Exchange a token or a one-time login code for the session cookie. */
export function login(cred: { token: string } | { code: string }): Promise<Session> {
  return apiWrite<Session>('POST', '/api/v1/session', cred);
}

export function currentSession(): Promise<Session> {
  return apiGet<Session>('/api/v1/session');
}

export async function logout(): Promise<void> {
  await apiWrite<unknown>('DELETE', '/api/v1/session');
}

export const isStaff = (s: Session | null | undefined): boolean => s?.role === 'admin' || s?.role === 'operator';
export const isAdmin = (s: Session | null | undefined): boolean => s?.role === 'admin';
