// The core's clock while busy, in GHz: a loop-carried chain of register adds, one cycle each, timed.
// The chain adds a register, not a constant, because some cores (Intel Golden Cove) fold small-immediate adds
// at rename and would run the chain faster than one add a cycle. The empty asm makes the compiler keep every
// add: it cannot prove x unchanged across it, and a volatile asm is never dropped. CPU time, not wall time, so
// that sharing the core does not read as a lower clock; best of 5 so that frequency ramp-up does not count.
// Usage: cc -O2 -o clock clock.c && ./clock   -> prints e.g. 3.512
#include <stdio.h>
#include <time.h>

#define ADD x += step; __asm__ volatile("" : "+r"(x));
#define ADD10 ADD ADD ADD ADD ADD ADD ADD ADD ADD ADD

static double cpu_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
    (void)argv;
    const long iterations = 20000000;   // x 10 adds: 2e8 cycles, about 0.06 s a run at 3 GHz
    unsigned long step = (unsigned long)argc, x = 0;   // argc: a value the compiler cannot know
    double best = 1e30;
    for (int run = 0; run < 5; run++) {
        double start = cpu_seconds();
        for (long i = 0; i < iterations; i++) {
            ADD10
        }
        double elapsed = cpu_seconds() - start;
        if (elapsed < best) best = elapsed;
    }
    printf("%.3f\n", iterations * 10 / best / 1e9);
    return 0;
}
