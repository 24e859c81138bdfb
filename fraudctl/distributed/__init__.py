"""The ``engine: dask`` side of prepare, features, train and score.

Each stage keeps its single-machine code path; these modules run the same functions
partition by partition (one parquet file, usually one day, per task) so a worker only ever
holds one partition plus the history its features need.
"""
