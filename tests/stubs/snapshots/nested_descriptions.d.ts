interface SendMessageInput {
  to: string;
  message: {
    /**
     * Plain text.
     * Markdown is not rendered.
     */
    text: string;
    /** Files to attach. */
    attachments?: {
      /** File name. */
      name?: string;
      /** @format uri */ url: string;
    }[];
  };
}
/** What was sent. */
interface SendMessageOutput {
  /** Message id. */
  id: string;
  /** How many parts it was split into. */
  parts: number;
}
/** A tool error rejects with an Error holding the tool's message. */
declare const codemode: {
  /**
   * Send a message.
   *
   * Messages over 4 KB are split.
   * @param input.to - Recipient id.
   * @param input.message - The message.
   */
  send_message(input: SendMessageInput): Promise<SendMessageOutput>;
};
