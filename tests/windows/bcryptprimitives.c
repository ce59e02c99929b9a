/* A stand-in for Windows' bcryptprimitives.dll, for running the Windows build under a Wine that
 * lacks it (Debian 12's Wine 8.0). Rust's standard library imports ProcessPrng from it since
 * Rust 1.78; real Windows has it from Windows 10 / Server 2016 on. It is used only by
 * tests/windows_wine.rs and is never shipped: the zip holds the .exe alone.
 *
 * ProcessPrng fills the buffer from RtlGenRandom (advapi32's SystemFunction036), the system's
 * own random generator, which Wine implements. Build:
 *   x86_64-w64-mingw32-gcc -shared -O2 -o bcryptprimitives.dll bcryptprimitives.c -ladvapi32
 */
#include <windows.h>

BOOLEAN WINAPI SystemFunction036(PVOID buffer, ULONG length);

/* ProcessPrng always succeeds on Windows; callers do not check for failure otherwise. RtlGenRandom
 * takes a 32-bit length, so a larger request is filled in pieces. */
__declspec(dllexport) BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T length)
{
    while (length > 0) {
        ULONG piece = length > 0x40000000 ? 0x40000000 : (ULONG)length;
        if (!SystemFunction036(data, piece))
            return FALSE;
        data += piece;
        length -= piece;
    }
    return TRUE;
}
