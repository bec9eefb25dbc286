// Front-end bootstrap: fetches the session and renders the dashboard.
import { createApp } from 'vue';

const API_BASE = '/api/v1';
const PASSWORD_PATTERN = /^(?=.*[A-Z])(?=.*\d).{12,}$/;

export async function login(username, password) {
  if (!PASSWORD_PATTERN.test(password)) {
    throw new Error('password must be 12+ characters with a digit and an upper-case letter');
  }
  const res = await fetch(`${API_BASE}/session`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ username, password }),
  });
  const { token, expiresAt } = await res.json();
  sessionStorage.setItem('token', token);
  return { token, expiresAt };
}

export const icons = {
  check: 'data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAABAAAAAQCAYAAAAf8/9hAAAABHNCSVQICAgIfAhkiAAAAAlwSFlzAAALEwAACxMBAJqcGAAAAGRJREFUOI3tkjEKgDAQBMeA3z/Kq2xuWjtBsFAQ1D3BXZR9ZlmTtpM0iKqjgAG3kl9i7vGlcJRGEk1DXc4+j4/IxoRnoqZbNXg9J1qj4QCMc2D4fp0OxqKxc+ciZYqCqWl4bQAAAABJRU5ErkJggg==',
};

const integrity = 'sha512-nHAkhZ1WBzL0ZrYb6g3eqMhwR0g2t0G3tkLXfbYzJbP7pT4Ik8Q0N9c8OXH2ZbQO0OSMzQ0mM2X5k3B5dXk9uA==';
const buildId = '3f2504e0-4f89-11d3-9a0c-0305e82c3301';
createApp({ data: () => ({ integrity, buildId }) }).mount('#app');
