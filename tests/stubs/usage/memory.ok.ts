async function agent() {
  const created = await codemode.create_entities({
    entities: [{ name: "Ada", entityType: "person", observations: ["wrote the first program"] }],
  });
  await codemode.create_relations({ relations: [{ from: "Ada", to: "Babbage", relationType: "worked with" }] });
  const graph = await codemode.read_graph();
  const names = graph.entities.map((e) => e.name).concat(created.entities.map((e) => e.entityType));
  const found = await codemode.search_nodes({ query: "Ada" });
  const deleted = await codemode.delete_entities({ entityNames: names });
  return { relations: found.relations.length, ok: deleted.success };
}
