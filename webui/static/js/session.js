// session.js — who is signed in, a one-shot notice for the login page, and when the admin last
// used the keyboard or pointer.
export const session = { user: null, notice: '', lastActivity: Date.now() };

// Automatic refreshes stop after this long without the admin touching the page, so that an
// unattended browser lets the session reach its idle timeout like any other.
const IDLE_MS = 25 * 60 * 1000;
export function attended() {
  return Date.now() - session.lastActivity < IDLE_MS;
}
