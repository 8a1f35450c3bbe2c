"""Intents about access and service: passwords, app login, SMS codes, branch hours, large cash withdrawals."""

from __future__ import annotations

from lmstack.examples.customer_service.intent import Intent

DIGITAL_INTENTS: tuple[Intent, ...] = (
    Intent(
        id="password_reset",
        name={"zh": "重置密码", "en": "Reset a password"},
        questions={
            "zh": ("{card}密码忘了怎么办？", "怎么重置{channel}的登录密码？", "密码输错三次被锁了。", "交易密码怎么修改？",
                   "忘记密码能在手机上重置吗？", "{card}密码被锁了多久能自动解锁？", "重置密码要带什么证件？"),
            "en": ("I forgot my {card} PIN. What should I do?", "How do I reset my password for {channel}?",
                   "I entered the wrong password three times and got locked out.",
                   "How do I change my transaction PIN?", "Can I reset a forgotten password on my phone?",
                   "How long until a locked {card} PIN unlocks by itself?",
                   "What ID do I need to reset my password?"),
        },
        answer={
            "zh": "登录密码和交易密码都可在兰亭银行手机银行“安全中心-密码管理”中通过人脸识别和短信验证码重置。"
                  "交易密码当日连续输错3次将被锁定，次日零点自动解锁；如无法通过线上验证，"
                  "请携带本人有效身份证件和银行卡到网点柜台重置。",
            "en": "Both login and transaction passwords can be reset in the Lanting Bank app under Security > "
                  "Passwords, using face recognition and an SMS code. Three wrong PIN entries in a day lock it "
                  "until midnight, when it unlocks automatically. If online checks fail, bring your ID and card "
                  "to a branch counter.",
        },
        facts={
            "zh": ("请勿将{card}密码设置为生日、连续或重复数字，也不要告诉任何人。",
                   "兰亭银行交易密码当日连续输错3次将被锁定，次日零点自动解锁。"),
            "en": ("Never use your birthday or repeated digits as your {card} PIN, and never share it.",
                   "At Lanting Bank, three wrong PIN entries in one day lock it until midnight."),
        },
    ),
    Intent(
        id="mobile_login_problem",
        name={"zh": "手机银行登录问题", "en": "Mobile banking login problems"},
        questions={
            "zh": ("手机银行登录不上怎么办？", "{phone_os}手机上手机银行一直闪退。", "换了新手机，手机银行怎么登录？",
                   "手机银行提示设备未绑定是什么意思？", "手机银行人脸识别总是失败。", "{phone_os}手机能装兰亭银行App吗？",
                   "手机银行登录时提示网络异常。",
                   "{phone_os}手机上的兰亭银行App一直登录失败。"),
            "en": ("I can't log in to the mobile banking app.", "The app keeps crashing on my {phone_os}.",
                   "I got a new phone. How do I log in to the app?",
                   "What does \"device not bound\" mean when I log in?",
                   "Face recognition keeps failing in the app.", "Can I install the Lanting Bank app on my {phone_os}?",
                   "The app says there's a network error when I log in.",
                   "I keep failing to log in to the Lanting Bank app on my {phone_os}."),
        },
        answer={
            "zh": "请先将兰亭银行App升级到最新版本，检查网络后重试。更换手机后首次登录需通过短信验证码和人脸识别"
                  "重新绑定设备；App闪退可尝试清除缓存或重新安装。App支持安卓、苹果和鸿蒙系统。"
                  "如仍无法登录，请拨打客服热线95386。",
            "en": "Please update the Lanting Bank app to the latest version, check your connection and try "
                  "again. On a new phone, the first login binds the device with an SMS code and face "
                  "recognition. If the app crashes, clear its cache or reinstall it. The app runs on Android, "
                  "iOS and HarmonyOS. If you still can't log in, call 95386.",
        },
        facts={
            "zh": ("兰亭银行手机银行新版本已上线，{phone_os}用户请前往应用商店更新。",
                   "为保障安全，手机银行同一时间只能在一台设备上登录。"),
            "en": ("A new version of the Lanting Bank app is out; please update it on your {phone_os}.",
                   "For security, the app can be logged in on only one device at a time."),
        },
    ),
    Intent(
        id="sms_code_missing",
        name={"zh": "收不到短信验证码", "en": "SMS code not received"},
        questions={
            "zh": ("收不到短信验证码怎么办？", "转账时验证码一直不来。", "{channel}的验证码短信没收到。",
                   "验证码短信被拦截了怎么办？", "在国外收不到银行验证码。", "为什么验证码要等很久才收到？",
                   "{phone_os}手机收不到兰亭银行的验证码短信。", "在{country}出差，收不到验证码怎么办？"),
            "en": ("I'm not getting the SMS code. What should I do?",
                   "The verification code never arrives when I make a transfer.",
                   "I didn't receive the code for {channel}.", "What if my phone blocks the code messages?",
                   "I'm abroad and can't receive the bank's codes.", "Why do verification codes take so long?",
                   "My {phone_os} isn't receiving the bank's verification codes.",
                   "I'm on a business trip in {country} and can't get verification codes."),
        },
        answer={
            "zh": "请确认手机信号正常、未欠费，并检查短信是否被手机安全软件拦截，验证码有效期为5分钟，"
                  "60秒后可重新获取。请确认收码号码是您在兰亭银行的预留手机号；在境外请开通国际漫游。"
                  "如仍收不到，可拨打客服热线95386。",
            "en": "Please check that your phone has signal and credit, and that a security app isn't blocking "
                  "the message. Codes are valid for 5 minutes and can be resent after 60 seconds. Make sure "
                  "you're using the number registered with Lanting Bank; abroad, turn on roaming. If codes "
                  "still don't arrive, call 95386.",
        },
        facts={
            "zh": ("兰亭银行短信验证码有效期为5分钟，任何人索要验证码都是诈骗。",
                   "部分手机安全软件会误拦截银行短信，请将兰亭银行短信号码加入白名单。"),
            "en": ("Lanting Bank SMS codes are valid for 5 minutes; anyone asking for one is a scammer.",
                   "Some phone security apps block bank texts by mistake; add Lanting Bank to the allowed list."),
        },
    ),
    Intent(
        id="branch_hours",
        name={"zh": "网点营业时间", "en": "Branch opening hours"},
        questions={
            "zh": ("兰亭银行网点几点开门？", "{city}的网点{weekday}营业吗？", "你们{weekday}上班吗？",
                   "网点中午休息吗？", "{city}哪个网点周末也营业？", "营业厅几点下班？"),
            "en": ("What time do Lanting Bank branches open?", "Are the {city} branches open {weekday}?",
                   "Are you open {weekday}?", "Do branches close for lunch?",
                   "Which branch in {city} opens at weekends?", "What time does the branch close?"),
        },
        answer={
            "zh": "兰亭银行网点工作日营业时间一般为9:00至17:00，中午不休息；部分网点周末和节假日提供个人业务服务，"
                  "具体以各网点公告为准。您可在手机银行“网点查询”中查看附近网点的营业时间并预约取号。",
            "en": "Lanting Bank branches are usually open from 9:00 to 17:00 on working days, with no lunch "
                  "break; some branches also serve personal customers at weekends and on holidays, as posted at "
                  "each branch. Use Find a Branch in the app to see nearby branches' hours and book a queue "
                  "number.",
        },
        facts={
            "zh": ("兰亭银行{city}分行部分网点{weekday}正常营业，办理个人业务。",
                   "客户可通过手机银行提前预约取号，到网点后减少排队时间。"),
            "en": ("Lanting Bank {city} Branch keeps some outlets open {weekday} for personal banking.",
                   "Booking a queue number in the app shortens the wait at the branch."),
        },
    ),
    Intent(
        id="large_cash_withdrawal",
        name={"zh": "大额取现预约", "en": "Large cash withdrawal"},
        questions={
            "zh": ("我要取{cash_amount}现金，需要预约吗？", "取{cash_amount}要提前几天说？", "大额取现怎么预约？",
                   "在{city}的网点取{cash_amount}现金要带什么？", "ATM一天最多能取多少钱？", "大额取现会收手续费吗？"),
            "en": ("I want to withdraw {cash_amount} in cash. Do I need to book?",
                   "How far ahead must I book to withdraw {cash_amount}?", "How do I book a large cash withdrawal?",
                   "What do I need to bring to withdraw {cash_amount} at a branch in {city}?",
                   "What's the daily ATM withdrawal limit?", "Is there a fee for large cash withdrawals?"),
        },
        answer={
            "zh": "单笔取现5万元及以上需提前1个工作日通过兰亭银行手机银行“网点预约”或客服热线95386预约，"
                  "并携带本人有效身份证件和银行卡到预约网点办理，本行取现不收手续费。ATM每日累计取现上限为2万元。",
            "en": "Withdrawals of 50,000 yuan or more must be booked one working day ahead through Branch "
                  "Booking in the Lanting Bank app or by calling 95386; bring your ID and card to the booked "
                  "branch. Withdrawals at our own branches are free. ATMs allow up to 20,000 yuan a day.",
        },
        facts={
            "zh": ("兰亭银行{city}分行提醒：取现{cash_amount}以上请提前预约，以便网点备足现金。",
                   "为防范电信诈骗，柜面大额取现时工作人员可能询问资金用途，请予以理解。"),
            "en": ("Lanting Bank {city} Branch asks customers withdrawing more than {cash_amount} to book ahead.",
                   "To prevent fraud, staff may ask what a large cash withdrawal is for."),
        },
    ),
)
