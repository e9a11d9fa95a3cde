/* Prints a generated model's label table: each label followed by a NUL byte.
 * Build with -DMODEL_HEADER='"<ident>.h"' -DMODEL_LABELS=mcuforge_<ident>_labels. */
#include <stdio.h>
#include MODEL_HEADER

int main(void)
{
    const char *const *label = MODEL_LABELS;
    for (; *label != NULL; ++label) {
        fputs(*label, stdout);
        fputc('\0', stdout);
    }
    return 0;
}
