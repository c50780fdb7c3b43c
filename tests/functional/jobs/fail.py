"""A job that fails on purpose."""

from pyspark.sql import SparkSession

spark = SparkSession.builder.appName("fail").getOrCreate()
spark.sparkContext.parallelize(range(2)).count()
raise ValueError("deliberate failure in the job")
