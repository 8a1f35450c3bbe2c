"""Intents about the account itself: opening and closing it, its balance, statements and the owner's details."""

from __future__ import annotations

from lmstack.examples.customer_service.intent import Intent

ACCOUNT_INTENTS: tuple[Intent, ...] = (
    Intent(
        id="account_opening",
        name={"zh": "开户", "en": "Open an account"},
        questions={
            "zh": ("在兰亭银行开户需要带什么？", "怎么办一张银行卡？", "能在{channel}上开户吗？", "外地人能在{city}开户吗？",
                   "开户要预约吗？", "给孩子开个账户需要什么材料？", "开一张借记卡要多长时间？"),
            "en": ("What do I need to open an account with Lanting Bank?", "How do I get a bank card?",
                   "Can I open an account through {channel}?",
                   "Can I open an account in {city} if I'm not a local resident?",
                   "Do I need an appointment to open an account?",
                   "What documents do I need to open an account for my child?",
                   "How long does it take to open a debit account?"),
        },
        answer={
            "zh": "开立借记卡账户请携带本人有效身份证件到兰亭银行任一网点办理，约需20分钟，可提前在手机银行预约取号。"
                  "为未成年人开户需由监护人陪同，并携带户口簿和双方身份证件。线上可开立二类电子账户，"
                  "单日交易额度较低。",
            "en": "To open a debit account, bring your valid ID to any Lanting Bank branch; it takes about 20 "
                  "minutes, and you can book a queue number in the app. A child's account needs a guardian "
                  "present with the household register and both IDs. You can also open a Class II e-account "
                  "online, which has lower daily limits.",
        },
        facts={
            "zh": ("兰亭银行{city}分行各网点均可办理个人开户，外地客户凭有效身份证件即可办理。",
                   "二类电子账户可通过{channel}在线开立，适合日常小额消费和理财。"),
            "en": ("Every Lanting Bank branch in {city} opens personal accounts, including for customers from "
                   "other cities.",
                   "Class II e-accounts can be opened through {channel} and suit small daily payments."),
        },
    ),
    Intent(
        id="balance_inquiry",
        name={"zh": "余额查询", "en": "Balance inquiry"},
        questions={
            "zh": ("怎么查{card}余额？", "我卡里还有多少钱？", "能用{channel}查余额吗？", "余额显示不对是怎么回事？",
                   "怎么查最近的交易明细？", "{card}的可用余额和账户余额有什么区别？"),
            "en": ("How do I check the balance on my {card}?", "How much money is left on my card?",
                   "Can I check my balance through {channel}?", "My balance looks wrong. Why?",
                   "How can I see my recent transactions?",
                   "What's the difference between the available and the ledger balance on my {card}?"),
        },
        answer={
            "zh": "您可通过兰亭银行手机银行首页、网上银行、ATM或拨打客服热线95386查询余额和交易明细。"
                  "可用余额是扣除冻结和在途金额后可以使用的部分。如余额与预期不符，请先查看交易明细，"
                  "仍有疑问可联系客服核实。",
            "en": "You can check your balance and transactions on the home page of the Lanting Bank app, in "
                  "online banking, at an ATM or by calling 95386. The available balance excludes held and "
                  "pending amounts. If the balance looks wrong, check the transaction list first, then contact "
                  "us if it still doesn't add up.",
        },
        facts={
            "zh": ("客户可随时通过{channel}查询{card}余额及近两年的交易明细。",
                   "开通动账短信通知后，账户每笔收支都会实时提醒。"),
            "en": ("Customers can check their {card} balance and two years of transactions through {channel}.",
                   "With SMS alerts turned on, every payment in or out is notified at once."),
        },
    ),
    Intent(
        id="close_account",
        name={"zh": "销户", "en": "Close an account"},
        questions={
            "zh": ("不用的{card}怎么注销？", "销户需要本人去网点吗？", "能在{channel}上销户吗？", "账户里还有钱能直接销户吗？",
                   "在{city}开的卡能在别的城市销户吗？", "信用卡怎么注销？"),
            "en": ("How do I close a {card} I no longer use?", "Do I have to close my account in person?",
                   "Can I close my account through {channel}?", "Can I close an account that still has money in it?",
                   "I opened my card in {city}. Can I close it in another city?", "How do I cancel my credit card?"),
        },
        answer={
            "zh": "借记卡销户需本人携带有效身份证件和卡片到兰亭银行任一网点办理，销户前请解除各类代扣、"
                  "转出余额并结清欠费。二类电子账户可在手机银行直接注销。信用卡需还清全部欠款后，"
                  "拨打客服热线95386申请注销。",
            "en": "To close a debit account, visit any Lanting Bank branch in person with your ID and the card. "
                  "Before closing, cancel any direct debits, move the balance out and settle any fees. Class II "
                  "e-accounts can be closed in the app. A credit card can be cancelled by calling 95386 once it "
                  "is fully paid off.",
        },
        facts={
            "zh": ("长期不用的账户建议及时销户，以免产生年费或被不法分子利用。",
                   "兰亭银行借记卡可在全国任一网点办理销户，无需回到开户网点。"),
            "en": ("Accounts left unused for a long time should be closed so they cannot be misused.",
                   "Lanting Bank debit accounts can be closed at any branch in the country."),
        },
    ),
    Intent(
        id="update_id_expiry",
        name={"zh": "更新身份证有效期", "en": "Update ID expiry date"},
        questions={
            "zh": ("身份证过期了，银行卡还能用吗？", "换了新身份证要到银行更新吗？", "怎么在{channel}上更新身份证信息？",
                   "提示证件过期，账户被限制了怎么办？", "更新证件有效期要去网点吗？", "身份证到期后{card}会被冻结吗？",
                   "{card}提示身份证过期，怎么处理？", "身份证快到期了，需要提前去银行更新吗？"),
            "en": ("My ID card has expired. Can I still use my bank card?",
                   "I have a new ID card. Do I need to update it with the bank?",
                   "How do I update my ID details through {channel}?",
                   "My account was restricted because my ID expired. What now?",
                   "Do I need to visit a branch to update my ID expiry date?",
                   "Will my {card} be frozen when my ID expires?",
                   "My {card} says my ID has expired. What should I do?",
                   "My ID is about to expire. Should I update it with the bank in advance?"),
        },
        answer={
            "zh": "按照监管要求，证件过期后账户可能被限制部分交易。换领新证后，您可在兰亭银行手机银行"
                  "“我的-个人信息-证件更新”中拍照上传新身份证，一般1个工作日内审核完成；"
                  "也可携带新证件到任一网点办理。",
            "en": "Under regulations, an account may be partly restricted once your ID expires. After getting "
                  "a new ID, upload photos of it in the Lanting Bank app under Me > Personal Info > Update ID; "
                  "checks usually finish within 1 working day. You can also update it at any branch.",
        },
        facts={
            "zh": ("兰亭银行将在客户身份证件到期前30天通过短信提醒更新证件信息。",
                   "证件过期且未及时更新的账户，将暂停非柜面渠道的部分交易。"),
            "en": ("Lanting Bank sends an SMS reminder 30 days before a customer's ID expires.",
                   "Accounts whose ID has expired lose some non-counter services until it is updated."),
        },
    ),
    Intent(
        id="change_phone_number",
        name={"zh": "修改预留手机号", "en": "Change registered phone number"},
        questions={
            "zh": ("换手机号了，银行预留号码怎么改？", "预留手机号停机了收不到验证码怎么办？", "能在{channel}上修改手机号吗？",
                   "{card}绑定的手机号怎么换？", "改预留手机号要去柜台吗？", "旧号码不用了怎么更新？",
                   "在{city}办的卡，能在别的城市改预留手机号吗？"),
            "en": ("I have a new phone number. How do I update it with the bank?",
                   "My registered number was cancelled and I can't get codes. What can I do?",
                   "Can I change my phone number through {channel}?",
                   "How do I change the phone number linked to my {card}?",
                   "Do I need to go to a counter to change my registered number?",
                   "I no longer use my old number. How do I update it?",
                   "My card was opened in {city}. Can I change my registered number in another city?"),
        },
        answer={
            "zh": "如原手机号仍能接收短信，可在兰亭银行手机银行“我的-安全中心-修改手机号”中，"
                  "经原号码和新号码验证后修改。如原号码已停用，请本人携带有效身份证件和银行卡到网点柜台办理。",
            "en": "If your old number can still receive texts, change it in the Lanting Bank app under Me > "
                  "Security > Change Phone Number, confirming with codes sent to both numbers. If the old "
                  "number no longer works, bring your ID and card to a branch counter.",
        },
        facts={
            "zh": ("预留手机号是接收交易提醒和验证码的重要渠道，更换号码后请及时到兰亭银行更新。",
                   "原号码已停用的客户，须本人到网点修改预留手机号。"),
            "en": ("Your registered phone number receives alerts and codes; update it with Lanting Bank as soon "
                   "as it changes.",
                   "If the old number no longer works, the change must be made in person at a branch."),
        },
    ),
    Intent(
        id="e_statement",
        name={"zh": "电子对账单", "en": "E-statements"},
        questions={
            "zh": ("怎么开通电子对账单？", "能把{card}的对账单发到邮箱吗？", "怎么打印银行流水？",
                   "纸质对账单能改成电子版吗？", "在{channel}上能下载交易流水吗？", "办签证要的银行流水怎么开？",
                   "电子对账单每月什么时候发？", "{card}的流水能导出成PDF吗？"),
            "en": ("How do I sign up for e-statements?", "Can my {card} statements be sent by e-mail?",
                   "How do I print a bank statement?", "Can I switch from paper to electronic statements?",
                   "Can I download my transaction history through {channel}?",
                   "How do I get a bank statement for a visa application?",
                   "When are e-statements sent each month?", "Can I export my {card} transactions as a PDF?"),
        },
        answer={
            "zh": "您可在兰亭银行手机银行“我的-电子对账单”中开通，账单将每月发送到您登记的邮箱。"
                  "带电子签章的交易流水可在手机银行“交易明细-流水打印”中申请，一般10分钟内发送至邮箱；"
                  "办理签证所需的盖章流水也可到网点打印。",
            "en": "Sign up in the Lanting Bank app under Me > E-Statements, and statements will go to your "
                  "registered e-mail each month. An electronically stamped transaction history can be requested "
                  "under Transactions > Print Statement and usually arrives by e-mail within 10 minutes. For a "
                  "visa, a stamped statement can also be printed at a branch.",
        },
        facts={
            "zh": ("自{date}起，兰亭银行新开{card}默认使用电子对账单，不再寄送纸质账单。",
                   "电子对账单加盖兰亭银行电子签章，与纸质流水具有同等效力。"),
            "en": ("From {date}, new {card} accounts at Lanting Bank receive e-statements instead of paper.",
                   "E-statements carry Lanting Bank's electronic stamp and are as valid as paper ones."),
        },
    ),
)
