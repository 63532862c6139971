async function agent() {
  await codemode.create_entities({ entities: [{ name: "Ada", entityType: "person" }] }); // TS2741
  await codemode.create_entities({ entities: { name: "Ada", entityType: "person", observations: [] } }); // TS2353
  await codemode.search_nodes({ query: 42 }); // TS2322
  const graph = await codemode.read_graph({});
  graph.nodes.length; // TS2339
  await codemode.read_graph({ depth: 2 }); // TS2322
}
