interface TagItemInput { item: { id: string } & { tags?: string[] }; either_and?: string | number }
/**
 * A tool error rejects with an Error holding the tool's message.
 * Promise<unknown> resolves to structuredContent, else to the text parsed as JSON, else the text.
 */
declare const codemode: {
  /** Tag an item. */
  tag_item(input: TagItemInput): Promise<unknown>;
};
