"""Counts words, its executors reading the input from Swift and writing the counts there (no {input}/{output}).

Argument: the split size in bytes (so that a small input still splits in several ranges).
Output: ``word<TAB>count`` lines, one object per partition, then ``_SUCCESS``.
"""

import sys
from operator import add

import heatdeploy_job
from pyspark.sql import SparkSession

split_bytes = int(sys.argv[1]) if len(sys.argv) > 1 else heatdeploy_job.DEFAULT_SPLIT_BYTES
spark = SparkSession.builder.appName("wordcount-direct").getOrCreate()
lines = heatdeploy_job.read_text(spark, split_bytes=split_bytes)
counts = lines.flatMap(str.split).map(lambda word: (word, 1)).reduceByKey(add, numPartitions=3)
heatdeploy_job.write_text(counts.map(lambda pair: f"{pair[0]}\t{pair[1]}"))
spark.stop()
