#include "textflag.h"

// func base64AVX2(dst, src []byte) int
//
// Encodes 24 bytes of src into 32 characters of dst per round, as long as
// src holds at least 28 bytes (each round reads src[0:16] and src[12:28]),
// and returns the number of bytes of src consumed (a multiple of 24). dst
// must have room for 4/3 of that. The method is Wojciech Muła's: a byte
// shuffle puts each 3-byte group in a 32-bit lane as [b1 b0 b2 b1], two
// multiplies move the four 6-bit indexes into the lane's four bytes, and a
// second shuffle looks up the offset that turns each index into its
// character of the standard alphabet.
TEXT ·base64AVX2(SB), NOSPLIT, $0-56
	MOVQ dst_base+0(FP), DI
	MOVQ src_base+24(FP), SI
	MOVQ src_len+32(FP), CX
	XORQ AX, AX

	VMOVDQU b64shuf<>(SB), Y8
	VPBROADCASTD b64mask1<>(SB), Y9
	VPBROADCASTD b64mul1<>(SB), Y10
	VPBROADCASTD b64mask2<>(SB), Y11
	VPBROADCASTD b64mul2<>(SB), Y12
	VPBROADCASTB b64c51<>(SB), Y13
	VPBROADCASTB b64c26<>(SB), Y14
	VPBROADCASTB b64c13<>(SB), Y15
	VMOVDQU b64lut<>(SB), Y7

loop:
	MOVQ CX, DX
	SUBQ AX, DX
	CMPQ DX, $28
	JLT  done

	VMOVDQU    (SI)(AX*1), X0
	VINSERTI128 $1, 12(SI)(AX*1), Y0, Y0
	VPSHUFB    Y8, Y0, Y0

	VPAND    Y9, Y0, Y1
	VPMULHUW Y10, Y1, Y1
	VPAND    Y11, Y0, Y2
	VPMULLW  Y12, Y2, Y2
	VPOR     Y1, Y2, Y0 // the indexes, 0..63

	VPSUBUSB Y13, Y0, Y3 // 0..51 -> 0, 52..63 -> 1..12
	VPCMPGTB Y0, Y14, Y4 // index < 26
	VPAND    Y15, Y4, Y4
	VPOR     Y4, Y3, Y3  // 0..25 -> 13
	VPSHUFB  Y3, Y7, Y3  // the offsets
	VPADDB   Y3, Y0, Y0

	VMOVDQU Y0, (DI)
	ADDQ    $32, DI
	ADDQ    $24, AX
	JMP     loop

done:
	VZEROUPPER
	MOVQ AX, ret+48(FP)
	RET

// Each lane of 12 input bytes as four groups [b1 b0 b2 b1].
DATA b64shuf<>+0(SB)/8, $0x0405030401020001
DATA b64shuf<>+8(SB)/8, $0x0a0b090a07080607
DATA b64shuf<>+16(SB)/8, $0x0405030401020001
DATA b64shuf<>+24(SB)/8, $0x0a0b090a07080607
GLOBL b64shuf<>(SB), RODATA|NOPTR, $32

DATA b64mask1<>+0(SB)/4, $0x0fc0fc00
GLOBL b64mask1<>(SB), RODATA|NOPTR, $4
DATA b64mul1<>+0(SB)/4, $0x04000040
GLOBL b64mul1<>(SB), RODATA|NOPTR, $4
DATA b64mask2<>+0(SB)/4, $0x003f03f0
GLOBL b64mask2<>(SB), RODATA|NOPTR, $4
DATA b64mul2<>+0(SB)/4, $0x01000010
GLOBL b64mul2<>(SB), RODATA|NOPTR, $4
DATA b64c51<>+0(SB)/1, $51
GLOBL b64c51<>(SB), RODATA|NOPTR, $1
DATA b64c26<>+0(SB)/1, $26
GLOBL b64c26<>(SB), RODATA|NOPTR, $1
DATA b64c13<>+0(SB)/1, $13
GLOBL b64c13<>(SB), RODATA|NOPTR, $1

// The offset from an index to its character, by the reduced index:
// 0: 'a'-26 (indexes 26..51), 1..10: '0'-52, 11: '+'-62, 12: '/'-63,
// 13: 'A' (indexes 0..25).
DATA b64lut<>+0(SB)/1, $71
DATA b64lut<>+1(SB)/1, $0xfc
DATA b64lut<>+2(SB)/1, $0xfc
DATA b64lut<>+3(SB)/1, $0xfc
DATA b64lut<>+4(SB)/1, $0xfc
DATA b64lut<>+5(SB)/1, $0xfc
DATA b64lut<>+6(SB)/1, $0xfc
DATA b64lut<>+7(SB)/1, $0xfc
DATA b64lut<>+8(SB)/1, $0xfc
DATA b64lut<>+9(SB)/1, $0xfc
DATA b64lut<>+10(SB)/1, $0xfc
DATA b64lut<>+11(SB)/1, $0xed
DATA b64lut<>+12(SB)/1, $0xf0
DATA b64lut<>+13(SB)/1, $65
DATA b64lut<>+14(SB)/1, $0
DATA b64lut<>+15(SB)/1, $0
DATA b64lut<>+16(SB)/1, $71
DATA b64lut<>+17(SB)/1, $0xfc
DATA b64lut<>+18(SB)/1, $0xfc
DATA b64lut<>+19(SB)/1, $0xfc
DATA b64lut<>+20(SB)/1, $0xfc
DATA b64lut<>+21(SB)/1, $0xfc
DATA b64lut<>+22(SB)/1, $0xfc
DATA b64lut<>+23(SB)/1, $0xfc
DATA b64lut<>+24(SB)/1, $0xfc
DATA b64lut<>+25(SB)/1, $0xfc
DATA b64lut<>+26(SB)/1, $0xfc
DATA b64lut<>+27(SB)/1, $0xed
DATA b64lut<>+28(SB)/1, $0xf0
DATA b64lut<>+29(SB)/1, $65
DATA b64lut<>+30(SB)/1, $0
DATA b64lut<>+31(SB)/1, $0
GLOBL b64lut<>(SB), RODATA|NOPTR, $32
