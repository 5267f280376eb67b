/* `juggle merge SHARD_DIR...`: one result from the shards of one list. */
#ifndef JG_MERGE_H
#define JG_MERGE_H

/* argv[0] is "merge". Returns the exit status: 0, 1 (incomplete), 2. */
int jg_merge_main(int argc, char **argv);

#endif
