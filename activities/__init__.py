"""Everything that touches the world: datasets, models, Lightning training, evaluation, prediction."""
