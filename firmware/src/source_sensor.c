/* Window source "sensor": the board's IMU through Zephyr's sensor API.
 *
 * The devicetree alias accel0 (and gyro0 when the board has a separate gyro; else accel0 gives the
 * gyro channels too, as the LSM9DS1 and BMI160 drivers do) is sampled every
 * MCUFORGE_SENSOR_PERIOD_US (= 1 / dataset.sample_rate_hz): a k_timer releases a semaphore, the
 * caller's thread fetches the sample (bus I/O cannot run in the timer's interrupt), converts SI
 * (m/s^2, rad/s) to the dataset's units and pushes it into the ring buffer (sensor_window.c), and
 * a window goes to the classifier every MCUFORGE_SENSOR_STRIDE samples (features.stride_ms), in
 * the dataset's channel order (mcuforge_sensor_config.h, written by the firmware stage).
 *
 * With CONFIG_MCUFORGE_SENSOR_EMUL_FEED (the native_sim test) every sample is first written into
 * the sensor's emulator from recorded register values (sensor_feed.c), and each window carries
 * the class and logits the Python int8 pipeline computed for it and must be bit for bit the window
 * Python cuts from the same samples; the feed's end ends the run. */
#include <errno.h>

#include <zephyr/device.h>
#include <zephyr/drivers/sensor.h>
#include <zephyr/kernel.h>
#include <zephyr/sys/printk.h>

#include "mcuforge_sensor_config.h"
#include "sensor_feed.h"
#include "sensor_window.h"
#include "window_source.h"

#if !MCUFORGE_SENSOR_OK
#error "the dataset cannot come from an IMU: see MCUFORGE_SENSOR_REASON in mcuforge_sensor_config.h"
#else

#include "mcuforge_features_config.h"

BUILD_ASSERT(MCUFORGE_SENSOR_WINDOW_LENGTH == MCUFORGE_FEATURES_WINDOW_LENGTH &&
	     MCUFORGE_SENSOR_N_CHANNELS == MCUFORGE_FEATURES_N_CHANNELS,
	     "sensor and feature configs disagree: re-run the firmware stage");
BUILD_ASSERT(DT_NODE_EXISTS(DT_ALIAS(accel0)),
	     "no accel0 devicetree alias: add the IMU in an overlay (firmware/boards/sensor/)");

static const struct device *const accel = DEVICE_DT_GET(DT_ALIAS(accel0));
#if DT_NODE_EXISTS(DT_ALIAS(gyro0))
static const struct device *const gyro = DEVICE_DT_GET(DT_ALIAS(gyro0));
#else
static const struct device *const gyro = DEVICE_DT_GET(DT_ALIAS(accel0));
#endif

static const uint8_t channel_source[MCUFORGE_SENSOR_N_CHANNELS] = MCUFORGE_SENSOR_CHANNEL_SOURCE;
static const double micro_per_unit[MCUFORGE_SENSOR_N_CHANNELS] = MCUFORGE_SENSOR_MICRO_PER_UNIT;
static float ring_storage[MCUFORGE_SENSOR_WINDOW_LENGTH * MCUFORGE_SENSOR_N_CHANNELS];
static struct mf_sensor_ring ring;

K_SEM_DEFINE(sample_due, 0, 1);

static void on_tick(struct k_timer *timer)
{
	ARG_UNUSED(timer);
	k_sem_give(&sample_due);
}

K_TIMER_DEFINE(sample_timer, on_tick, NULL);

static int set_rate(const struct device *dev, enum sensor_channel chan)
{
	struct sensor_value hz = {.val1 = 1000000 / MCUFORGE_SENSOR_PERIOD_US,
				  .val2 = (int32_t)(1000000LL * 1000000 / MCUFORGE_SENSOR_PERIOD_US % 1000000)};
	int status = sensor_attr_set(dev, chan, SENSOR_ATTR_SAMPLING_FREQUENCY, &hz);

	/* a driver without the attribute (or one that fixes the rate in devicetree) keeps its own */
	return status == -ENOTSUP || status == -EINVAL || status == -ENOSYS ? 0 : status;
}

int window_source_init(void)
{
	int status;

	if (!device_is_ready(accel) || !device_is_ready(gyro)) {
		printk("mcuforge: sensor %s not ready\n", accel->name);
		return -ENODEV;
	}
	status = set_rate(accel, SENSOR_CHAN_ACCEL_XYZ);
	if (status == 0 && MCUFORGE_SENSOR_USES_GYRO) {
		status = set_rate(gyro, SENSOR_CHAN_GYRO_XYZ);
	}
	if (status != 0) {
		return status;
	}
	status = sensor_feed_init(accel);
	if (status != 0) {
		return status;
	}
	mf_sensor_ring_init(&ring, ring_storage, MCUFORGE_SENSOR_WINDOW_LENGTH, MCUFORGE_SENSOR_N_CHANNELS,
			    MCUFORGE_SENSOR_STRIDE);
	printk("mcuforge: sensor source %s, %d channels every %d us, window %d, stride %d\n", accel->name,
	       MCUFORGE_SENSOR_N_CHANNELS, MCUFORGE_SENSOR_PERIOD_US, MCUFORGE_SENSOR_WINDOW_LENGTH,
	       MCUFORGE_SENSOR_STRIDE);
	k_timer_start(&sample_timer, K_USEC(MCUFORGE_SENSOR_PERIOD_US), K_USEC(MCUFORGE_SENSOR_PERIOD_US));
	return 0;
}

/* One sample: the accel xyz + gyro xyz row in SI, then the dataset's channels in its units. */
static int read_sample(float *row)
{
	struct sensor_value si[6] = {0};
	int status = sensor_sample_fetch(accel);

	if (status == 0) {
		status = sensor_channel_get(accel, SENSOR_CHAN_ACCEL_XYZ, &si[0]);
	}
	if (status == 0 && MCUFORGE_SENSOR_USES_GYRO) {
		if (gyro != accel) {
			status = sensor_sample_fetch(gyro);
		}
		if (status == 0) {
			status = sensor_channel_get(gyro, SENSOR_CHAN_GYRO_XYZ, &si[3]);
		}
	}
	for (int c = 0; status == 0 && c < MCUFORGE_SENSOR_N_CHANNELS; ++c) {
		const struct sensor_value *v = &si[channel_source[c]];

		row[c] = mf_sensor_to_unit(mf_sensor_micro(v->val1, v->val2), micro_per_unit[c]);
	}
	return status;
}

int window_source_next(float *window, struct window_expectation *expected)
{
	float row[MCUFORGE_SENSOR_N_CHANNELS];
	int due = 0;

	while (!due) {
		int status;

		k_sem_take(&sample_due, K_FOREVER);
		status = sensor_feed_next(accel);
		if (status == 0) {
			status = read_sample(row);
		}
		if (status != 0) {
			k_timer_stop(&sample_timer);
			return status;
		}
		due = mf_sensor_ring_push(&ring, row);
	}
	mf_sensor_ring_window(&ring, window);
	if (sensor_feed_check(window, MCUFORGE_SENSOR_WINDOW_LENGTH * MCUFORGE_SENSOR_N_CHANNELS) != 0) {
		return -EIO;
	}
	if (expected != NULL) {
		sensor_feed_expectation(expected);
	}
	return 0;
}

#endif /* MCUFORGE_SENSOR_OK */
