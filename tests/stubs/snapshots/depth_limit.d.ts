interface DeepInput {
  next: {
    next: {
      next: {
        next: {
          next: {
            next: {
              next: {
                next: { next: { next: { next: { next: { next: unknown } } } } };
              };
            };
          };
        };
      };
    };
  };
}
/**
 * A tool error rejects with an Error holding the tool's message.
 * Promise<unknown> resolves to structuredContent, else to the text parsed as JSON, else the text.
 */
declare const codemode: {
  /** A schema nested too deep. */
  deep(input: DeepInput): Promise<unknown>;
};
