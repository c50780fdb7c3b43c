"""Estimates pi from the number of partitions given as the first argument."""

import sys

from pyspark.sql import SparkSession

spark = SparkSession.builder.appName("pi").getOrCreate()
partitions = int(sys.argv[1]) if len(sys.argv) > 1 else 2
n = 100_000 * partitions
total = spark.sparkContext.parallelize(range(n), partitions).map(lambda k: (-1) ** k / (2 * k + 1)).sum()
print(f"Pi is roughly {4 * total:.4f}")
spark.stop()
