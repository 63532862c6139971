interface SetLabelsInput {
  labels?: Record<string, string>;
  free?: Record<string, unknown>;
  closed?: { a?: string };
  empty_closed?: Record<string, never>;
  mixed?: {
    name: string;
    count?: number;
    [key: string]: boolean | string | number | undefined;
  };
  any_object?: Record<string, unknown>;
}
/**
 * Each method calls one tool and returns a Promise. A tool error rejects it with an Error carrying the tool's message.
 * Promise<unknown> resolves to the tool's structuredContent if present, else its text content parsed as JSON when it parses, else the raw text.
 */
declare const codemode: {
  /** Set labels and metadata. */
  set_labels(input?: SetLabelsInput): Promise<unknown>;
};
