"""Estimates pi with a deterministic sum; prints the result to the driver log."""

from pyspark.sql import SparkSession

spark = SparkSession.builder.appName("pi").getOrCreate()
n = 200_000
total = spark.sparkContext.parallelize(range(n), 4).map(lambda k: (-1) ** k / (2 * k + 1)).sum()
print(f"Pi is roughly {4 * total:.4f}")
spark.stop()
