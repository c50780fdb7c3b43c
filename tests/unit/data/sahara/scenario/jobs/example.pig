A = LOAD '$INPUT' USING PigStorage() AS (line:chararray);
STORE A INTO '$OUTPUT';
