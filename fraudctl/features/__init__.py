"""History features: the transform, its kernel, the offline stage and the online store."""
