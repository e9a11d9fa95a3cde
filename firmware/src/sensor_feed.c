/* CONFIG_MCUFORGE_SENSOR_EMUL_FEED: recorded BMI160 registers (mcuforge_sensor_feed.c, written by
 * tests/test_zephyr_sensor.py through mcuforge.firmware.sensor_feed) go into the accel0 emulator
 * before every fetch, through Zephyr's emulator backend API; each written register is read back
 * and must hold exactly the recorded value. Windows carry the Python int8 pipeline's logits. */
#include <errno.h>

#include <zephyr/drivers/emul.h>
#include <zephyr/drivers/emul_sensor.h>
#include <zephyr/drivers/sensor.h>
#include <zephyr/sys/printk.h>
#include <zephyr/sys/util.h>

#include "bmi160.h"
#include "emul_bmi160.h"
#include "mcuforge_sensor_feed.h"
#include "sensor_feed.h"

BUILD_ASSERT(IS_ENABLED(CONFIG_BMI160_ACCEL_RANGE_8G) && IS_ENABLED(CONFIG_BMI160_GYRO_RANGE_2000DPS),
	     "the feed was quantised for 8 g / 2000 dps (mcuforge.firmware.sensor_feed)");

/* The emulator's full scale for a register (emul_bmi160.c): value = reg * scale / INT16_MAX in
 * q31 with this shift, at 8 g and 2000 dps. */
#define ACC_SCALE 0x4e7404eaLL
#define ACC_SHIFT 7
#define GYR_SCALE 0x45d02beaLL
#define GYR_SHIFT 6

static const struct emul *const emulator = EMUL_DT_GET(DT_ALIAS(accel0));
static const enum sensor_channel channels[6] = {SENSOR_CHAN_ACCEL_X, SENSOR_CHAN_ACCEL_Y, SENSOR_CHAN_ACCEL_Z,
						 SENSOR_CHAN_GYRO_X, SENSOR_CHAN_GYRO_Y, SENSOR_CHAN_GYRO_Z};
static size_t next_sample;
static size_t next_window;

int sensor_feed_init(const struct device *dev)
{
	ARG_UNUSED(dev);
	next_sample = 0;
	next_window = 0;
	printk("mcuforge: feeding %d recorded samples through the %s emulator\n", MCUFORGE_SENSOR_FEED_SAMPLES,
	       emulator->dev->name);
	return 0;
}

int sensor_feed_next(const struct device *dev)
{
	ARG_UNUSED(dev);
	if (next_sample >= MCUFORGE_SENSOR_FEED_SAMPLES) {
		return -ENODATA;
	}
	for (int i = 0; i < 6; ++i) {
		bool gyro = i >= 3;
		int64_t scale = gyro ? GYR_SCALE : ACC_SCALE;
		int16_t wanted = mcuforge_sensor_feed[next_sample][i];
		q31_t value = (q31_t)DIV_ROUND_CLOSEST((int64_t)wanted * scale, INT16_MAX);
		struct sensor_chan_spec spec = {.chan_type = channels[i], .chan_idx = 0};
		int reg = (gyro ? BMI160_REG_DATA_GYR_X + (i - 3) * 2 : BMI160_REG_DATA_ACC_X + i * 2);
		uint8_t bytes[2];
		int status = emul_sensor_backend_set_channel(emulator, spec, &value, gyro ? GYR_SHIFT : ACC_SHIFT);

		if (status == 0) {
			status = emul_bmi160_get_reg_value(emulator, reg, bytes, 2);
		}
		if (status != 0 || (int16_t)(bytes[0] | (bytes[1] << 8)) != wanted) {
			printk("mcuforge: emulator register %#x of sample %u is not %d (%d)\n", reg,
			       (unsigned)next_sample, wanted, status);
			return status != 0 ? status : -EIO;
		}
	}
	next_sample++;
	return 0;
}

int sensor_feed_check(const float *window, int floats)
{
	const uint8_t *bytes = (const uint8_t *)window;
	uint32_t hash = 0x811c9dc5u;

	if (next_window >= MCUFORGE_SENSOR_FEED_WINDOWS) {
		return -EIO;
	}
	for (size_t i = 0; i < (size_t)floats * sizeof(float); ++i) {
		hash = (hash ^ bytes[i]) * 0x01000193u;
	}
	if (hash != mcuforge_sensor_feed_window_hash[next_window]) {
		printk("mcuforge: window %u differs from the Python windowing of the same samples\n",
		       (unsigned)next_window);
		return -EIO;
	}
	return 0;
}

void sensor_feed_expectation(struct window_expectation *expected)
{
	if (next_window < MCUFORGE_SENSOR_FEED_WINDOWS) {
		expected->label = mcuforge_sensor_feed_labels[next_window];
		expected->logits = mcuforge_sensor_feed_logits[next_window];
	} else {
		expected->label = -1;
		expected->logits = NULL;
	}
	next_window++;
}
