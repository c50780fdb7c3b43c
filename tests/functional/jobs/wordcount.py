"""Counts words in the input file; writes counts.json into the output folder (from the driver)."""

import json
import os
import sys

from pyspark.sql import SparkSession

source, target = sys.argv[1], sys.argv[2]
spark = SparkSession.builder.appName("wordcount").getOrCreate()
lines = spark.sparkContext.textFile("file://" + source, minPartitions=2)
counts = lines.flatMap(str.split).map(lambda word: (word, 1)).reduceByKey(lambda a, b: a + b).collect()
os.makedirs(target, exist_ok=True)
with open(os.path.join(target, "counts.json"), "w") as out:
    json.dump(dict(counts), out, sort_keys=True)
spark.stop()
