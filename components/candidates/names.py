"""The candidates each modality offers the choice stage, by name, in the order they are built
(torch-free: the config checks `choice.candidates` against these)."""

TABLES = (
    "target_only",
    "source_only",
    "pooled",
    "lgbm_target_only",
    "lgbm_pooled",
    "lgbm_balanced",
    "lgbm_weighted",
    "tradaboost",
    "lgbm_source_features",
    "blend",
    "blend_all",
)

TEXTS = ("tfidf_lr_target_only", "tfidf_lr_source_only", "tfidf_lr_pooled", "blend")
