import { setTheme, useTheme, type ThemeChoice } from './theme';

export function ThemeSwitch() {
  const theme = useTheme();
  return (
    <select
      className="theme-switch"
      aria-label="Theme"
      data-testid="theme-switch"
      value={theme}
      onChange={(e) => setTheme(e.target.value as ThemeChoice)}
    >
      <option value="system">System theme</option>
      <option value="light">Light</option>
      <option value="dark">Dark</option>
    </select>
  );
}
