/*
 * bcryptprimitives.dll for Wine 8, which lacks it: Go's runtime on Windows
 * gets its random bytes from ProcessPrng there, and a Windows build of
 * vpconnect does not start without it. This exports ProcessPrng on top of
 * RtlGenRandom (advapi32's SystemFunction036). Only the tests use it: it is
 * copied into a private Wine prefix (.ci/wine-suite), never shipped.
 *
 * Build: x86_64-w64-mingw32-gcc -shared -O2 -o bcryptprimitives.dll processprng.c -ladvapi32
 */
#include <windows.h>

BOOLEAN NTAPI SystemFunction036(PVOID buffer, ULONG length);

__declspec(dllexport) BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T length)
{
    while (length > 0) {
        ULONG n = length > 0x10000000 ? 0x10000000 : (ULONG)length;
        if (!SystemFunction036(data, n))
            return FALSE;
        data += n;
        length -= n;
    }
    return TRUE;
}
