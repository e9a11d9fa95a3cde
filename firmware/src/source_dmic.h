/* Microphone source: the board's PDM microphone as int16 PCM at the model's rate, one hop at a time. */
#ifndef MCUFORGE_SOURCE_DMIC_H
#define MCUFORGE_SOURCE_DMIC_H

#include <stdint.h>

/* 0 when the microphone runs, or a negative errno. */
int dmic_source_init(void);

/* The next MCUFORGE_FEATURES_HOP_LENGTH samples at the model's rate into `hop`: 0 or a negative errno. */
int dmic_source_next_hop(int16_t *hop);

#endif /* MCUFORGE_SOURCE_DMIC_H */
