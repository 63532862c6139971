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
 * A tool error rejects with an Error holding the tool's message.
 * Promise<unknown> resolves to structuredContent, else to the text parsed as JSON, else the text.
 */
declare const codemode: {
  /** Set labels and metadata. */
  set_labels(input?: SetLabelsInput): Promise<unknown>;
};
