interface Entity {
  /** The name of the entity */
  name: string;
  /** The type of the entity */
  entityType: string;
  /** An array of observation contents associated with the entity */
  observations: string[];
}
interface CreateEntitiesInput { entities: Entity[] }
interface CreateEntitiesOutput { entities: Entity[] }
interface Relation {
  /** The name of the entity where the relation starts */
  from: string;
  /** The name of the entity where the relation ends */
  to: string;
  /** The type of the relation */
  relationType: string;
}
interface CreateRelationsInput { relations: Relation[] }
interface CreateRelationsOutput { relations: Relation[] }
interface AddObservationsInput {
  observations: {
    /** The name of the entity to add the observations to */
    entityName: string;
    /** An array of observation contents to add */
    contents: string[];
  }[];
}
interface AddObservationsOutput { results: { entityName: string; addedObservations: string[] }[] }
interface DeleteEntitiesInput { entityNames: string[] }
interface DeleteEntitiesOutput { success: boolean; message: string }
interface DeleteObservationsInput {
  deletions: {
    /** The name of the entity containing the observations */
    entityName: string;
    /** An array of observations to delete */
    observations: string[];
  }[];
}
interface DeleteObservationsOutput { success: boolean; message: string }
interface DeleteRelationsInput { relations: Relation[] }
interface DeleteRelationsOutput { success: boolean; message: string }
type ReadGraphInput = Record<string, never>;
interface ReadGraphOutput { entities: Entity[]; relations: Relation[] }
interface SearchNodesInput { query: string }
interface SearchNodesOutput { entities: Entity[]; relations: Relation[] }
interface OpenNodesInput { names: string[] }
interface OpenNodesOutput { entities: Entity[]; relations: Relation[] }
/** A tool error rejects with an Error holding the tool's message. */
declare const codemode: {
  /** Create multiple new entities in the knowledge graph */
  create_entities(input: CreateEntitiesInput): Promise<CreateEntitiesOutput>;
  /**
   * Create multiple new relations between entities in the knowledge graph. Relations should be in active voice
   */
  create_relations(input: CreateRelationsInput): Promise<CreateRelationsOutput>;
  /** Add new observations to existing entities in the knowledge graph */
  add_observations(input: AddObservationsInput): Promise<AddObservationsOutput>;
  /**
   * Delete multiple entities and their associated relations from the knowledge graph
   * @param input.entityNames - An array of entity names to delete
   */
  delete_entities(input: DeleteEntitiesInput): Promise<DeleteEntitiesOutput>;
  /** Delete specific observations from entities in the knowledge graph */
  delete_observations(input: DeleteObservationsInput): Promise<DeleteObservationsOutput>;
  /**
   * Delete multiple relations from the knowledge graph
   * @param input.relations - An array of relations to delete
   */
  delete_relations(input: DeleteRelationsInput): Promise<DeleteRelationsOutput>;
  /** Read the entire knowledge graph */
  read_graph(input?: ReadGraphInput): Promise<ReadGraphOutput>;
  /**
   * Search for nodes in the knowledge graph based on a query
   * @param input.query - The search query to match against entity names, types, and observation content
   */
  search_nodes(input: SearchNodesInput): Promise<SearchNodesOutput>;
  /**
   * Open specific nodes in the knowledge graph by their names
   * @param input.names - An array of entity names to retrieve
   */
  open_nodes(input: OpenNodesInput): Promise<OpenNodesOutput>;
};
