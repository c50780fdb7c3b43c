"""A DataFrame aggregation over CSV lines ``city,amount`` read from Swift by the executors: total per city.

Output ``totals``: ``city<TAB>total`` lines, one object per partition, then ``_SUCCESS``.
"""

import sys

import heatdeploy_job
from pyspark.sql import SparkSession, functions

split_bytes = int(sys.argv[1]) if len(sys.argv) > 1 else heatdeploy_job.DEFAULT_SPLIT_BYTES
spark = SparkSession.builder.appName("sales-by-city").getOrCreate()
rows = heatdeploy_job.read_text(spark, "sales", split_bytes=split_bytes).map(lambda line: line.split(","))
frame = spark.createDataFrame(rows.map(lambda r: (r[0], int(r[1]))), ["city", "amount"])
totals = frame.groupBy("city").agg(functions.sum("amount").alias("total")).orderBy("city")
heatdeploy_job.write_text(totals.rdd.map(lambda row: f"{row.city}\t{row.total}"), "totals")
spark.stop()
