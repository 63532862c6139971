interface SaveTreeNode { name: string; children?: SaveTreeNode[] }
interface SaveTreeInput { root: SaveTreeNode; parent?: SaveTreeInput }
interface Echo { again?: SaveTreeOutput }
interface SaveTreeOutput {
  /** @minimum 0 */ saved: number;
  tree?: Echo;
  echo?: { again?: SaveTreeOutput };
}
/**
 * Each method calls one tool and returns a Promise. A tool error rejects it with an Error carrying the tool's message.
 */
declare const codemode: {
  /** Save a tree of categories. */
  save_tree(input: SaveTreeInput): Promise<SaveTreeOutput>;
};
