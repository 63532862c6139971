interface UpdateInput {
  value: string | number | boolean;
  note?: string | null;
  owner?: string | null;
  list_or_null?: string[] | null;
  cleared?: null;
}
/**
 * A tool error rejects with an Error holding the tool's message.
 * Promise<unknown> resolves to structuredContent, else to the text parsed as JSON, else the text.
 */
declare const codemode: {
  /** Update a record. */
  update(input: UpdateInput): Promise<unknown>;
};
