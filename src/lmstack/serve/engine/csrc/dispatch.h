/* Each kernel is compiled three times, for AVX-512, AVX2+FMA and the baseline, and the widest one this
 * CPU runs is picked at the first call (GCC's __builtin_cpu_supports), so one build runs anywhere. */
#ifndef LMSTACK_DISPATCH_H
#define LMSTACK_DISPATCH_H

#if defined(__GNUC__) && defined(__x86_64__)
#define LMSTACK_X86 1
#define T_AVX512 __attribute__((target("avx512f,avx512bw,avx512vl,avx2,fma")))
#define T_AVX2 __attribute__((target("avx2,fma")))
/* Defines NAME_avx512, NAME_avx2 and NAME_base from DEFINE(NAME_ISA, TARGET). */
#define FOR_EACH_ISA(DEFINE, NAME) DEFINE(NAME##_avx512, T_AVX512) DEFINE(NAME##_avx2, T_AVX2) DEFINE(NAME##_base, )
#define PICK_ISA(NAME)                                                                                  \
    (__builtin_cpu_init(), __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw")     \
         ? NAME##_avx512                                                                               \
         : __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") ? NAME##_avx2 : NAME##_base)
#else
#define FOR_EACH_ISA(DEFINE, NAME) DEFINE(NAME##_base, )
#define PICK_ISA(NAME) NAME##_base
#endif

#endif
