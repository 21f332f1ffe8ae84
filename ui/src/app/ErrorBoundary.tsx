// The last line of defense: a render error shows what failed and a retry
// button instead of a white page. resetKey (the path) clears it on navigation.
import { Component, type ErrorInfo, type ReactNode } from 'react';
import { ErrorState } from './states';

interface Props {
  children: ReactNode;
  resetKey?: string;
}
interface State {
  error: unknown;
  key: string | undefined;
}

export class ErrorBoundary extends Component<Props, State> {
  state: State = { error: null, key: this.props.resetKey };

  static getDerivedStateFromError(error: unknown): Partial<State> {
    return { error: error ?? new Error('unknown error') };
  }

  static getDerivedStateFromProps(props: Props, state: State): Partial<State> | null {
    return props.resetKey !== state.key ? { key: props.resetKey, error: null } : null;
  }

  componentDidCatch(error: unknown, info: ErrorInfo) {
    console.error('djs dashboard: render error', error, info.componentStack);
  }

  render() {
    if (this.state.error) {
      return (
        <section className="content" data-testid="error-boundary">
          <ErrorState error={this.state.error} retry={() => this.setState({ error: null })} />
        </section>
      );
    }
    return this.props.children;
  }
}
